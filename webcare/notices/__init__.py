"""The one durable outbox for staff and team notices (breaches, reminders, alerts)."""
