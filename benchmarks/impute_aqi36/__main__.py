"""``python -m benchmarks.impute_aqi36``: run the AQI-36 imputation benchmark."""

from benchmarks.impute_aqi36.cli import main

if __name__ == "__main__":
    main()
