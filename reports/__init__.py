"""Report building: results JSON -> tidy DataFrame -> tables and plots (output in reports/out/)."""
