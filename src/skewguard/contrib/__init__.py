"""Framework integrations, each a thin layer over ``skewguard.Skewguard``."""
