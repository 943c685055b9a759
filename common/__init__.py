"""What every layer may import, because it imports nothing of ours: the user-error base class
and the one place an error becomes a sentence (user_error.py), and the owner of what a process
loads once (loaded_once.py). loaders/ and llm/ import nothing else of ours."""
