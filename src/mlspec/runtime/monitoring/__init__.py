"""Monitoring: profiles, drift statistics, the prediction log as live data, and reports."""
