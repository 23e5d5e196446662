"""Real time: online learning, collision-free embedding tables, durable fast ingest, traffic pools."""
