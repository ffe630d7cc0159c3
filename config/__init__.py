"""Configuration: one validated model, loaded from YAML files in this folder."""

from config.loader import ConfigError, load_config
from config.model import AppConfig, Org, Person

__all__ = ["AppConfig", "ConfigError", "Org", "Person", "load_config"]
