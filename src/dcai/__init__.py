"""Data-centric curation of a handwritten Roman numeral dataset for a fixed model."""
import os

from . import quiet_tf

# TensorFlow's C++ start-up chatter (oneDNN, CPU features) hides the stages' own messages.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
quiet_tf.install()
