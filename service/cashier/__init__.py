"""The counter: the cashier page, PIN sign-in on paired tills and cashier sessions."""
