"""The browser view: an HTTP server beside the frame loop, serving MJPEG, a page, status and events."""
