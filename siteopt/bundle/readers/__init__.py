"""Readers of raw and user files: GTFS feeds, service levels, stations, zoning, Bridgeport.

* :mod:`~siteopt.bundle.readers.gtfs`: reading and validating a GTFS feed, its calendar;
* :mod:`~siteopt.bundle.readers.service`: departures per stop on a representative day;
* :mod:`~siteopt.bundle.readers.stations`: rail, CTfastrak and ferry stations as points;
* :mod:`~siteopt.bundle.readers.zoning`: zoning district polygons and use tables;
* :mod:`~siteopt.bundle.readers.bridgeport`: the Bridgeport districts and packaged use table.
"""
