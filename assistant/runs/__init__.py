"""Cross-run consistency: experiments that produce logged runs, and metrics, reports and plots over the run log."""
