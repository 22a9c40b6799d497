"""The pre-acceptance case store: cases, their numbers and their timelines."""
