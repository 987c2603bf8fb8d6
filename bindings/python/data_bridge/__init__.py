"""data_bridge: the namespace of the data-bridge projects (here: pyloop)."""
