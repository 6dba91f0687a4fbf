from services.alerting.service import definition
from shared.service_main import main

main("alerting", definition)
