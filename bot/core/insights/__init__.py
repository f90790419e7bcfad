"""Insights for a server's admins and the operator (issue 23): the question log's use — knowledge
gaps, usage charts and the report — shared by the command line and Discord."""
