"""Staff notifications: digest subscriptions, the content-free digest and SLA reminders, mail."""
