"""`python -m vidseg.report`: rebuild a run's HTML report (`vidseg.report.build.main`)."""

from vidseg.report.build import main

if __name__ == "__main__":
    main()
