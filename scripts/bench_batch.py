"""Batch scoring at 1,000,000 and 5,000,000 people and the service latencies with one stack (workflows/benchmarks/batch.py)."""

from deepcredit.workflows.benchmarks.batch import main

if __name__ == "__main__":
    main()
