"""Read helpers behind the browse pages: counts, directory lists, timelines, message search.

Views call these and build no queries of their own. Every list is keyset paged (keyset.py) and
every page costs a fixed number of queries, whatever the number of rows.
"""
