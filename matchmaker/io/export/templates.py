"""The Jinja2 environment of the HTML exports, with ``_()`` bound to one reader's language.

Autoescaping is on, so every text from the input files is HTML-escaped; ``_("...%(name)s", name=x)``
(jinja2's new-style gettext) treats the catalog's wording as markup and escapes the values put into it.
"""

from __future__ import annotations

import functools

from jinja2 import BytecodeCache, Environment, PackageLoader, StrictUndefined

from ..i18n import translator


def jinja_environment(package: str, bytecode_cache: BytecodeCache | None = None) -> Environment:
    """The settings every HTML page of the product shares (exports and the desk): templates of ``package``,
    autoescaping, undefined names as errors, the i18n extension; the caller installs the words."""
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=bytecode_cache,
        extensions=["jinja2.ext.i18n"],
    )


@functools.cache  # one per language: agenda pages of hundreds of participants share compiled templates
def template_environment(language: str) -> Environment:
    """The environment whose ``_()`` speaks ``language`` (a SUPPORTED identifier)."""
    reader = translator(language)
    environment = jinja_environment("matchmaker")
    environment.install_gettext_callables(  # type: ignore[attr-defined]  # added by the i18n extension
        gettext=reader.catalog.gettext, ngettext=reader.catalog.ngettext, newstyle=True
    )
    return environment
