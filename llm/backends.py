"""The language-model backends DocChat offers: the one list that settings, the CLI, the page
and the factory read (kept apart from llm/factory.py so reading it loads no model library)."""
BACKENDS = ("gguf", "chatglm2", "openai")
