"""``matchmaker serve``: the organizer's desk (web API) over a workspace; attached to the main group by cli/main.py."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from .common import EXIT_BAD_INPUT, fail


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def register(group: click.Group) -> None:
    """Add this module's commands to ``group``."""

    @group.command("serve")
    @click.option("--workspace", "workspace_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("matchmaker-workspace"), show_default=True, help="Workspace folder (created if missing): events, versions and jobs in one SQLite file.")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on. Anything but loopback needs a token (one is generated if --token is not given).")
    @click.option("--port", type=click.IntRange(min=0, max=65535), default=8000, show_default=True, help="Port to listen on.")
    @click.option("--jobs", type=click.IntRange(min=1), default=None, help="Solves that may run at once (each in its own process) [default: 1; with --cluster: the cluster's task slots].")
    @click.option("--cluster", default=None, metavar="tcp://HOST:PORT", help="Run every solve job on this Dask scheduler's workers (docs/cluster.md); unreachable: exit 2.")
    @click.option("--token", default=None, envvar="MATCHMAKER_TOKEN", help="Require 'Authorization: Bearer TOKEN' (or a 'token' cookie) on every request [env: MATCHMAKER_TOKEN].")
    @click.option("--max-upload-mb", type=click.IntRange(min=1), default=50, show_default=True, help="Largest request body accepted, in MiB.")
    def serve_command(workspace_dir, host, port, jobs, cluster, token, max_upload_mb):
        """Run the organizer's desk: web pages and a JSON API over an event workspace.

        Open http://HOST:PORT/ in a browser: upload scenarios or spreadsheets,
        solve and re-plan in the background, publish versions, download exports
        (docs/dashboard.md). The API and its documentation are at
        http://HOST:PORT/api/docs. Jobs a previous server left running
        are marked interrupted when the workspace opens. Stop with Ctrl-C:
        running solves stop early and keep their best schedule.

        \b
        Example:
          matchmaker serve --workspace fair-2024/ --port 8000
          matchmaker serve --workspace fair-2024/ --cluster tcp://10.0.0.5:8786
          curl -F scenario=@scenarios/demo-small.json http://127.0.0.1:8000/api/events
          curl -X POST -H 'Content-Type: application/json' -d '{"time_limit": 10}' \\
            http://127.0.0.1:8000/api/events/1/solve
        """
        import uvicorn

        from ..web.app import create_app, generate_token
        from ..web.workspace import WorkspaceError

        if cluster:  # checked before anything opens: an unreachable scheduler is a bad input
            from ..errors import ClusterError
            from ..solver.executor import task_slots

            try:
                jobs = jobs or task_slots(cluster)
            except ClusterError as error:
                fail([f"error: {line}" for line in error.lines()], EXIT_BAD_INPUT)
        jobs = jobs or 1
        generated = False
        if token is None and not is_loopback(host):
            token, generated = generate_token(), True
        try:
            app = create_app(workspace_dir, jobs=jobs, token=token, max_upload_bytes=max_upload_mb * 2**20, cluster=cluster)
        except WorkspaceError as error:
            fail([f"error: {error}"], EXIT_BAD_INPUT)
        recovered = app.state.workspace.recovered
        if recovered:
            click.echo(f"marked {len(recovered)} job(s) interrupted (the previous server stopped): {', '.join(map(str, recovered))}", err=True)
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"workspace {workspace_dir}; the desk at http://{shown}:{port}/ (API: /api/docs)", err=True)
        if cluster:
            click.echo(f"solve jobs run on the Dask cluster at {cluster}, {jobs} at once", err=True)
        if generated:
            click.echo(f"--host {host} is not loopback: every request needs 'Authorization: Bearer {token}'", err=True)
        uvicorn.run(app, host=host, port=port, log_level="info")
