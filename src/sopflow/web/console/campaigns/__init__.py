"""The console's Campaigns section: the list, starting a campaign, today's tasks, one campaign's page.

The fixed paths are registered before ``/campaigns/{campaign_id}`` (:mod:`.detail` imports their modules
first) so that they are not taken for an id.
"""

from sopflow.web.console.campaigns import detail, listing, start_form, today

__all__ = ["detail", "listing", "start_form", "today"]
