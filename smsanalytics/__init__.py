"""smsanalytics."""
