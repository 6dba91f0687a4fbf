from services.publication.service import definition
from shared.service_main import main

main("publication", definition)
