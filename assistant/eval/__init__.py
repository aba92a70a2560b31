"""Retrieval evaluation on public BEIR-layout data: loader, ingest into its own schema, runner, metrics, plot."""
