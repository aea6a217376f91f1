"""`gymbox view`: a local web app over rollouts files, indexed by byte offset and read on demand."""
