"""Spark local[2] against the in-process path: batch scoring with features (workflows/benchmarks/spark.py)."""

from deepcredit.workflows.benchmarks.spark import main

if __name__ == "__main__":
    main()
