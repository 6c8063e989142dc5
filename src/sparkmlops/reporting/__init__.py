"""What analysts read: the typed report contract, the views built from it, the HTML report and the dashboard."""
