"""Analytics: metric definitions (funnel, AARRR, retention, referral, ROI, targets) and the engines that run them."""
