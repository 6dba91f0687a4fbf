from services.publication.bootstrap import definition
from shared.service_main import main

main("publication", definition)
