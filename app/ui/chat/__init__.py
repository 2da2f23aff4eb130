"""The conversation: thread list, messages, answers with their thinking, the composer."""
