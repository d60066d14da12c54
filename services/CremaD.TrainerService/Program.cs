var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults().AddCremaDTrainerService();
var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
