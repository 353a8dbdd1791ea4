def pytest_configure(config):
    config.addinivalue_line(
        "markers", "real_weights: runs real GGUF checkpoints from the offline assets (minutes "
        "of CPU); CI runs them, `-m \"not real_weights\"` leaves them out")
