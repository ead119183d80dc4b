"""The public web form: server-rendered, works without JavaScript, four languages."""
