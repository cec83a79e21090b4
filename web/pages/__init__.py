"""Server-rendered pages (Jinja2): sign-in, search, plate detail, alerts and cameras."""
