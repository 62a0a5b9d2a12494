"""Authoring tools: the exercise generator, the site and slide builds. Students never import these."""
