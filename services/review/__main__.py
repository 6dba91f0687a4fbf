from services.review.bootstrap import definition
from shared.service_main import main

main("review", definition)
