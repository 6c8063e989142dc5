"""sparkmlops: monthly Spark MLlib retraining, registry, gates and reports."""

__version__ = "0.1.0"
