"""The review workflow: the states and their table of transitions, the history every change
writes, and the urgency a case's metadata implies."""
