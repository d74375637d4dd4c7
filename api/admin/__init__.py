"""The admin library page at `/admin/`, its browser session, and the thumbnail route."""

from videolib.api.admin.setup import setup_admin

__all__ = ["setup_admin"]
