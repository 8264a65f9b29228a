"""``python -m benchmarks.detect``: run the anomaly-detection benchmark."""

from benchmarks.detect.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
