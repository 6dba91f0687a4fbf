from services.alerting.bootstrap import definition
from shared.service_main import main

main("alerting", definition)
