"""HTTP routers of the publication service: ``public`` (JSON, no login), ``pages`` (the same
read models as server-rendered HTML for citizens) and ``staff`` (clerks, leaders, readers)."""
