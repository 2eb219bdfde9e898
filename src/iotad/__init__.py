"""iotad: autoencoder and latent-representation anomaly detectors for network and IoT intrusion data."""

__version__ = "0.1.0"
