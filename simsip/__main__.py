"""Run the simsip command line: ``python -m simsip``."""

from simsip.cli import main

if __name__ == "__main__":
    main()
