-- Temporal's auto-setup creates its own databases; nothing else is needed for the app database.
SELECT 1;
