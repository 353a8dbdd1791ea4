"""Hub access and checkpoint readers: name-or-path -> local files (safetensors, tf_model.h5,
GGUF)."""
