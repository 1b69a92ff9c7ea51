from .cli.main import run

if __name__ == "__main__":  # spawned worker processes import this module too
    run()
