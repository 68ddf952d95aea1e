"""Readers of raw and user files: GTFS feeds, service levels, stations, zoning, Bridgeport.

* :mod:`~siteopt.data.readers.gtfs`: reading and validating a GTFS feed, its calendar;
* :mod:`~siteopt.data.readers.service`: departures per stop on a representative day;
* :mod:`~siteopt.data.readers.stations`: rail, CTfastrak and ferry stations as points;
* :mod:`~siteopt.data.readers.zoning`: zoning district polygons and use tables;
* :mod:`~siteopt.data.readers.bridgeport`: the Bridgeport districts and packaged use table.
"""
