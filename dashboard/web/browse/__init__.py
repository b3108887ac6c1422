"""Finding chat data: home, users, conversations, messages, search; their filter forms."""
