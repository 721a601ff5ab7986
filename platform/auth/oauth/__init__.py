"""The OAuth2 provider for third-party UIs: client registration, the authorization server, consent.

Third parties receive our own access tokens carrying a ``scope`` claim, so
``Actor.scopes`` limits them in GraphQL (``licheng.graphql.scopes``) while
the services still check the person's roles.
"""
