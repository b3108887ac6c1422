"""No page of chatsweep is kept by the browser or a proxy (issue 14, item 4).

Pages show chat data and carry buttons that act: "Back" after confirming a purge showed the cached
"Previewed" page with a live "Delete 3 messages" button. Every response without a cache policy of
its own gets `Cache-Control: no-cache, no-store, must-revalidate, private, max-age=0`, so going back
asks the server again (and Chromium keeps no-store pages out of its back/forward cache); a button
that is stale by then is refused with what happened to its request (the actions say it). Static
files keep WhiteNoise's own headers.
"""

from django.utils.cache import add_never_cache_headers


def never_cached(get_response):
    def middleware(request):
        response = get_response(request)
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response

    return middleware
